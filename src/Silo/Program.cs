using Microsoft.Extensions.Hosting;
using SrMobile.Silo;

var builder = Host.CreateApplicationBuilder(args);
builder.AddSrMobileSilo();
await builder.Build().RunAsync();
