"""The sandbox worker: standard library only, started as ``python -I -B <this folder>``.

One concept per file:

- ``zygote``   the pre-started worker process: reads jobs, forks one child per job, enforces
               the wall-clock limit, kills every leftover process, replies with the result;
- ``job``      the forked child: isolates itself, applies the kernel layers, runs the program;
- ``landlock`` Landlock filesystem / TCP / scope rules (ctypes syscalls);
- ``seccomp``  the seccomp BPF filter (ctypes + prctl);
- ``mounts``   private tmpfs over /tmp, /var/tmp, /dev/shm inside the worker's mount namespace;
- ``guards``   the friendly in-child Python guards (clear ``PermissionError`` messages);
- ``tracer``   runs and traces the program under the step / time / output limits;
- ``render``   renders values in the official trace style;
- ``libc``     the ctypes bridge to ``syscall`` and ``prctl``.

The caller's process imports ``landlock`` and ``seccomp`` only to detect what the kernel
offers; it never runs anything else from here.
"""
