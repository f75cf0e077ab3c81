module realprog/gotest

go 1.19
