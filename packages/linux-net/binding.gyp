{
  "targets": [
    {
      "target_name": "linux_net",
      "sources": ["native/linux_net.c"],
      "cflags": ["-std=gnu11", "-Wall", "-Wextra", "-Werror=implicit-function-declaration", "-O2"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
