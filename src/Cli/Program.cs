using SrMobile.Cli;

return await SrMobileCommand.RunAsync(args, CliConsole.System);
