from watchstander.cli.app import main

main()
