using Grid.Learning.Advantages;
using Grid.Learning.Tests.Reference;

namespace Grid.Learning.Tests.Advantages;

public sealed class GroupAdvantagesReferenceTests
{
    public static TheoryData<int> Cases => new(Enumerable.Range(0, ReferenceVectors.Instance.LossCases.Length));

    [Theory]
    [MemberData(nameof(Cases))]
    public void Advantages_match_the_pytorch_reference(int caseIndex)
    {
        var c = ReferenceVectors.Instance.LossCases[caseIndex];
        var scale = SettingNames<AdvantageScale>.Parse("advantage_scale", c.AdvantageScale);

        var advantages = GroupAdvantages.Compute(c.Rewards, c.GroupSize, scale);

        Close.Equal(c.Expected.Advantages, advantages, $"case {caseIndex} ({c.AdvantageScale}) advantages");
    }
}
