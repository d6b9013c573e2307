.PHONY: run test check bench-provision bench-queue bench-cmdb bench-sla bench-daypass bench-import bench-peers bench-smoke stop
run:            ## install, migrate, seed the demo and run web + worker + beat
	python3 dev.py run
test:           ## static checks, the whole test suite and the benchmarks at smoke size
	python3 dev.py test
check:          ## ruff, mypy, makemigrations --check
	python3 dev.py check
bench-provision:
	python3 dev.py bench provision
bench-queue:
	python3 dev.py bench queue
bench-cmdb:
	python3 dev.py bench cmdb
bench-sla:
	python3 dev.py bench sla
bench-daypass:
	python3 dev.py bench daypass
bench-import:
	python3 dev.py bench import
bench-peers:
	python3 dev.py bench peers
bench-smoke:    ## every benchmark at tiny sizes (under a minute); fails if one crashes
	python3 dev.py bench --smoke
stop:           ## stop the embedded PostgreSQL and Valkey
	python3 dev.py stop
