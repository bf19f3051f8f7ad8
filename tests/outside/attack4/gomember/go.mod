module gomember

go 1.19
