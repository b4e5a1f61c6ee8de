"""The resource catalog (政务信息资源目录): every department's information resources, how each is shared
and opened, their data elements, and the lifecycle of an entry from draft to withdrawal."""
