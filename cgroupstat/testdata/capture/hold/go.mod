module hold
go 1.26
