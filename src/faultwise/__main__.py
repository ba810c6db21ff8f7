from faultwise.cli import main

raise SystemExit(main())
