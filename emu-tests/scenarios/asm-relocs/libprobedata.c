/* libprobedata.so: the data and function the probes in libprobe reach across the boundary. */
int probe_target[8] = {100, 101, 102, 103, 104, 105, 106, 107};

int probe_func(int x) { return x * 7; }
