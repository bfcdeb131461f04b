from cobranca.cli import main

main()
