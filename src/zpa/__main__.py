from zpa.cli import main

main()
