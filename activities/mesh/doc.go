// Package mesh is the Kubernetes-API side of Cilium ClusterMesh: plain
// functions over a cluster's kubernetes.Interface that the join and remove
// workflows call from activities. It replaces the original
// "Auto-ClusterMesh" (reference §4.2, §4.4) and fixes its faults (W4, W6).
//
//	Detect(ctx, c)                 does c run Cilium with ClusterMesh; identity, NodePort
//	SetIdentity(ctx, c, id)        cluster-name/cluster-id in cilium-config (+ clustermesh-apiserver)
//	RestoreIdentity(ctx, c)        undo SetIdentity (compensation)
//	Connect(ctx, local, peer)      local trusts and reaches peer (one direction)
//	Disconnect(ctx, local, peer)   undo Connect
//	RestartAgents(ctx, c, stamp)   rolling restart of all agents and the operator
//	Peers(ctx, c)                  peers configured in c's cilium-clustermesh Secret
//
// # Idempotency
//
// Activities are retried, so every function reaches the same end state when
// run twice or after a partial earlier run, without error:
//
//   - Writes are patches that name only what they change — JSON merge
//     patches for ConfigMap and Secret keys, strategic merge patches for pod
//     templates — never read-modify-replace of whole objects, so concurrent
//     changes of other keys (another peer's Connect) are kept.
//   - Where a patch has to carry a whole list (hostAliases' hostnames, a
//     container's args) it is computed from a read and carries that read's
//     resourceVersion as a precondition; on Conflict it is recomputed
//     (retry.RetryOnConflict). Nothing is patched when nothing would
//     change, so pods do not roll needlessly.
//   - SetIdentity records the identity before its first call in an
//     annotation on cilium-config, so a retry returns the true previous
//     identity rather than the one it set itself; RestoreIdentity restores
//     from that record and removes it.
//   - RestartAgents takes its stamp from the caller: the same stamp twice is
//     one restart.
//
// # Decisions
//
//   - Cluster names must be DNS labels of at most 32 characters (they become
//     "<name>.mesh.cilium.io" and Secret keys; 32 is Cilium's limit).
//     Cluster ids are 1..255, or 1..511 with max-connected-clusters: "511";
//     choosing a free one is the caller's business (W4).
//   - The cilium-clustermesh Secret is created by Connect when missing and
//     then labelled app.kubernetes.io/managed-by=smartorch. Disconnect
//     deletes it when it is left empty and carries that label (delete
//     preconditioned on resourceVersion, so a concurrent Connect wins); a
//     Secret made by someone else (e.g. Helm) is only emptied.
//   - A peer's Host that is a DNS name is resolved when connecting (the
//     hostAlias needs an IP); the lowest IPv4 address is taken so retries
//     choose the same one. Peers on the same IP share one hostAlias entry,
//     and a peer whose IP changed is moved, not duplicated.
//   - The clustermesh-apiserver Deployment gets the identity in its literal
//     --cluster-name=/--cluster-id= args (any container; args reading
//     $(VARS) from cilium-config are left alone), and an annotation on its
//     pod template so it rolls out in both cases. A cluster without that
//     Deployment is not an error for SetIdentity.
//   - Connect changes the agents' pod template (hostAliases), which by
//     itself rolls the agents; RestartAgents is still the explicit step
//     after a mesh change (also for changes that do not touch the
//     template, such as SetIdentity's cilium-config change).
//
// Errors name the cluster and the object: `mesh: cluster "edge-1": patch
// Secret kube-system/cilium-clustermesh: ...`.
package mesh
