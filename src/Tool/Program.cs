using Wudao.Tool;

return Cli.Run(args, ToolConsole.System());
