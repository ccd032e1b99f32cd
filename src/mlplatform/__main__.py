from mlplatform.cli import main

main()
