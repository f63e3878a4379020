from vigilare.cli import main

raise SystemExit(main())
