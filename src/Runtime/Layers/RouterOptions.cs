namespace Wudao;

/// <summary>Options of the routers beyond softmax top-k, as declared on [Router].</summary>
/// <param name="ImportanceWeight">NoisyTopK: weight of CV²(importance).</param>
/// <param name="LoadWeight">NoisyTopK: weight of CV²(load).</param>
/// <param name="SharedExperts">DeepSeek: always-on experts after the routed ones.</param>
/// <param name="BiasUpdateRate">DeepSeek: γ of the balancing-bias update.</param>
/// <param name="Vocab">Hash: token ids lie in [0, Vocab).</param>
public sealed record RouterOptions(float ImportanceWeight, float LoadWeight, int SharedExperts, float BiasUpdateRate, int Vocab)
{
    /// <summary>All zeros: the options of the routers that take none.</summary>
    public static RouterOptions None { get; } = new(0f, 0f, 0, 0f, 0);
}
