from shadowserve.cli.main import main

# Guarded: a spawned worker process (metrics/offloaded_outputs.py) imports this module again.
if __name__ == "__main__":
    main()
