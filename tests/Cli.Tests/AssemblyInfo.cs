// libtorch's process-wide state (thread pool size, allocator) is not made for several trainers at once: the
// classes of this project run one after another.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
