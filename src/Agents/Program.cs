using SrMobile.Agents;
using SrMobile.Workers;

// The engine's child process (EngineRun.Isolated): one measurement, then exit.
if (args is [EngineRun.Verb, var request, var result])
    return EngineRun.Child(request, result);

var builder = WebApplication.CreateBuilder(new WebApplicationOptions { Args = args, ContentRootPath = AppContext.BaseDirectory });
if (!builder.AddSrMobileAgent(args, Console.Error))
    return 2;
var app = builder.Build();
app.MapSrMobileAgent();
await app.RunAsync();
return Environment.ExitCode;
