"""PVC -> bound PV -> mounting pods and node -> the kubelet's directory holding the volume's files.

`resolve` is pure (API objects as dicts in, a `LocatedVolume` or a `Problem` out), `kube` is the thin
adapter over the official client, `hooks` runs pre/post-backup commands through the API's exec, and
`swap` replaces a directory's content with a restored copy without deleting anything early.
"""
