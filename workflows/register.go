package workflows

// Register registers every workflow with a worker or a replayer.
func Register(r interface{ RegisterWorkflow(any) }) {
	r.RegisterWorkflow(JoinCluster)
	r.RegisterWorkflow(RemoveCluster)
	r.RegisterWorkflow(InstantiateEnabler)
	r.RegisterWorkflow(TerminateEnabler)
	r.RegisterWorkflow(DeleteEnabler)
	r.RegisterWorkflow(CleanupVolumes)
	r.RegisterWorkflow(UpgradeEnabler)
	r.RegisterWorkflow(RollbackEnabler)
	r.RegisterWorkflow(ClusterHealth)
	r.RegisterWorkflow(FailoverEnabler)
}
