module github.com/go-memwatch/memwatch/bench/oomlab

go 1.26.0

require (
	github.com/KimMachineGun/automemlimit v1.0.1
	github.com/go-memwatch/memwatch v0.0.0
	golang.org/x/sys v0.50.0
)

require github.com/pbnjay/memory v0.0.0-20210728143218-7b4eea64cf58 // indirect

replace github.com/go-memwatch/memwatch => ../..
