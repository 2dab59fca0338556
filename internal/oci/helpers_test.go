package oci_test

import "github.com/google/go-containerregistry/pkg/authn"

func authnDefault() authn.Keychain { return authn.DefaultKeychain }
