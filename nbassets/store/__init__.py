"""Where bytes and history live: data storage, serializers, catalogs, stores, workspaces, gc."""
