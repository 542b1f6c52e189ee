"""Neural-network pieces: backbones, heads, losses and the distributed gather."""
