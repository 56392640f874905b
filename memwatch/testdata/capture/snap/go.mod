module memwatch-capture

go 1.26.0
