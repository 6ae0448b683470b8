package flush

const ntThresholdForTest = ntThreshold

// kernelCopiers returns each bulk kernel this CPU can run, with the
// short-copy threshold disabled so that even the shortest copies take the
// streaming path (head, bulk and tail).
func kernelCopiers(maxLen int) []copier {
	cs := []copier{{"sse2", func(d, s []byte) int { return copyNTImpl(d, s, false, 0) }, maxLen}}
	if hasAVX2 {
		cs = append(cs, copier{"avx2", func(d, s []byte) int { return copyNTImpl(d, s, true, 0) }, maxLen})
	}
	return cs
}

// kernelCopiersAtThreshold returns each bulk kernel with the production
// short-copy threshold.
func kernelCopiersAtThreshold() []copier {
	cs := []copier{{name: "sse2", fn: func(d, s []byte) int { return copyNTImpl(d, s, false, ntThreshold) }}}
	if hasAVX2 {
		cs = append(cs, copier{name: "avx2", fn: func(d, s []byte) int { return copyNTImpl(d, s, true, ntThreshold) }})
	}
	return cs
}

// smallCopyPaths returns CopyNT forced onto the copy+Flush path and onto
// the streaming path, for tuning ntThreshold.
func smallCopyPaths() []copier {
	return []copier{
		{name: "copyflush", fn: func(d, s []byte) int { return copyNTImpl(d, s, hasAVX2, 1<<62) }},
		{name: "stream", fn: func(d, s []byte) int { return copyNTImpl(d, s, hasAVX2, 0) }},
	}
}
