"""The pages people look at: `mlplatform dashboard` (a read-only web server over the configured
state) and `mlplatform report` (the same per-model view as one self-contained HTML file). Top
floor, beside `cli/`: it reads through the same adapters and flows as the CLI."""
