//go:build !amd64

package flush

// Outside amd64 CopyNT is a plain copy with no kernels or threshold.

const ntThresholdForTest = 0

func kernelCopiers(int) []copier { return nil }

func kernelCopiersAtThreshold() []copier { return nil }

func smallCopyPaths() []copier { return nil }
