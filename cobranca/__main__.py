from cobranca.cli import main

# Guarded: a service forked by `cobranca up` (multiprocessing's forkserver) imports the
# parent's main module again, and must not run the command line a second time.
if __name__ == "__main__":
    main()
