module github.com/hallmark-dev/hallmark

go 1.26

require (
	github.com/go-jose/go-jose/v4 v4.1.8
	github.com/spf13/cobra v1.10.2
)

require (
	github.com/google/cel-go v0.26.1 // indirect
	github.com/google/go-containerregistry v0.22.1 // indirect
	github.com/in-toto/attestation v1.2.0 // indirect
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/sigstore/sigstore-go v1.3.0 // indirect
	github.com/spf13/pflag v1.0.10 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	sigs.k8s.io/yaml v1.6.0 // indirect
)
