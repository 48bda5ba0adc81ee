"""The CLI's subcommands, one module each (see ``street2shop.cli``)."""
