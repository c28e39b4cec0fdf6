"""etcd: gRPC client use (status, members, leader, snapshot stream), snapshot verification, restore."""
