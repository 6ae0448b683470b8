package shuffle

// LendMappings makes a pmem store's View lend mappings as it does on DAX,
// so that the in-place path runs on machines without DAX.
func LendMappings(s Store) { s.(*pmemStore).inPlace = true }
