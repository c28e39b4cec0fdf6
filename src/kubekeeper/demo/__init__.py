"""Steps of `kubekeeper demo`, each runnable on a sandbox that needs nothing but this machine."""
