package main

// Main returns its parameters unchanged.
func Main(args map[string]any) map[string]any {
	return args
}
