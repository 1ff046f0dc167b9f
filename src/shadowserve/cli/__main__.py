from shadowserve.cli.main import main

main()
