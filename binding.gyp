{
  "targets": [
    {
      "target_name": "asyncio_native",
      "sources": ["native/asyncio_native.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-O2"]
    }
  ]
}
