using Microsoft.AspNetCore.Builder;
using SrMobile.Silo;
using SrMobile.Silo.Web;

var builder = WebApplication.CreateBuilder(args);
builder.AddSrMobileSilo();
builder.AddSrMobileWeb();
var app = builder.Build();
app.MapSrMobileWeb();
await app.RunAsync();
