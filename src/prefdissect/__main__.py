from .cli import main

if __name__ == "__main__":  # worker processes import this module; they must not run the CLI
    main()
