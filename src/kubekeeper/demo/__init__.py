"""Demo steps run by `kubekeeper demo` on an embedded sandbox (nothing outside this machine)."""
