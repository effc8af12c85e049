module quicklook

go 1.26.8

require github.com/airbusgeo/godal v0.0.18
