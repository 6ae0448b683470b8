package records

import "time"

// runtimeYield lets other goroutines run while a test waits on a condition.
func runtimeYield() { time.Sleep(100 * time.Microsecond) }
