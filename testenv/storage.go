package testenv

import (
	"context"
	"fmt"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PreMadeVolumes is how many PVs a cluster with a StorageClass gets: pv-1 of
// 1Gi up to pv-10 of 10Gi.
const PreMadeVolumes = 10

// createStorage makes the default StorageClass and PVs of it. The class has
// no provisioner, so the controller manager binds claims to these PVs.
func (c *Cluster) createStorage(ctx context.Context) error {
	immediate := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{
		ObjectMeta: metav1.ObjectMeta{
			Name:        c.opts.StorageClass,
			Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"},
		},
		Provisioner:       "kubernetes.io/no-provisioner",
		VolumeBindingMode: &immediate,
	}
	if _, err := c.Client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("%s: create StorageClass: %w", c.Name, err)
	}
	hostPath := corev1.HostPathDirectoryOrCreate
	for i := 1; i <= PreMadeVolumes; i++ {
		pv := &corev1.PersistentVolume{
			ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-pv-%d", c.opts.StorageClass, i)},
			Spec: corev1.PersistentVolumeSpec{
				StorageClassName:              c.opts.StorageClass,
				Capacity:                      corev1.ResourceList{corev1.ResourceStorage: resource.MustParse(fmt.Sprintf("%dGi", i))},
				AccessModes:                   []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOnce},
				PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
				PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{
					Path: filepath.Join(c.dir, "volumes", fmt.Sprint(i)),
					Type: &hostPath,
				}},
			},
		}
		if _, err := c.Client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("%s: create PV: %w", c.Name, err)
		}
	}
	return nil
}
