"""What a robot lab does around the learner: record demonstrations, train a success classifier,
pretrain an image backbone, warm-start from a policy, read checkpoints and export a policy that
runs without Ray."""
