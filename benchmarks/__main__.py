from benchmarks.judge.__main__ import main

main()
