from lstmgen.cli.main import main

main()
