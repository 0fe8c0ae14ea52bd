from septum.hypervisor.cli import main
import sys
sys.exit(main())
