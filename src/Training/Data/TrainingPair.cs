using SrMobile.Engine.Imaging;

namespace SrMobile.Training.Data;

/// <summary>An aligned LR/HR pair: HR is exactly scale × LR in both sides (top-left aligned); both RGB or both gray.</summary>
public sealed record TrainingPair(string Name, Image8 Low, Image8 High);
