"""P x K batches: P people, K images of each, so that every anchor has positives and hard negatives in its batch."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from ..model.preprocess import load_rgb
from .data import FaceImage


class FaceDataset(Dataset):
    def __init__(self, items: list[FaceImage], transform: Callable, label_of: dict[str, int]):
        self.items = items
        self.transform = transform
        self.labels = [label_of[item.person] for item in items]

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int, int]:
        """The transformed image, its person's label and ``index`` (which finds per-image targets, e.g. a teacher's)."""
        return self.transform(load_rgb(self.items[index].path)), self.labels[index], index


class PKBatchSampler(Sampler[list[int]]):
    """Yields ``num_batches`` batches of ``people_per_batch`` x ``images_per_person`` dataset indices, plus
    ``singles_per_batch`` images of distinct single-image people (the labels in ``single_labels``).

    People are drawn uniformly (so a person with 500 images is not 250 times as frequent as one with 2); their images
    are distinct where the person has enough, otherwise repeated (augmentation makes the copies differ).

    Look-alike batches (``lookalike_batches``, the share of batches): a uniformly drawn person and
    ``people_per_batch - 1`` people drawn from ``neighbours[label]`` (that person's look-alikes, nearest first, e.g.
    in a teacher's space), so that the batch-hard negatives are hard ones; a random batch of 8 among 1,000 people
    rarely holds two people who look alike.
    """

    def __init__(
        self,
        labels: list[int],
        people_per_batch: int,
        images_per_person: int,
        num_batches: int,
        seed: int = 0,
        single_labels: set[int] = frozenset(),
        singles_per_batch: int = 0,
        neighbours: Mapping[int, Sequence[int]] | None = None,
        lookalike_batches: float = 0.0,
    ):
        by_person: dict[int, list[int]] = {}
        singles: list[int] = []
        for index, label in enumerate(labels):
            if label in single_labels:
                singles.append(index)
            else:
                by_person.setdefault(label, []).append(index)
        if people_per_batch > len(by_person):
            raise ValueError(f"a batch needs {people_per_batch} people but only {len(by_person)} are available")
        if singles_per_batch > len(singles):
            raise ValueError(f"a batch needs {singles_per_batch} single-image people but only {len(singles)} exist")
        if lookalike_batches and neighbours is None:
            raise ValueError("look-alike batches need each person's neighbours")
        people = sorted(by_person)
        position = {label: i for i, label in enumerate(people)}
        self.indices_by_person = [np.array(by_person[label]) for label in people]
        # neighbours as positions in indices_by_person, labelled people only
        self.neighbours: list[np.ndarray] = []
        if lookalike_batches:
            for label in people:
                near = [position[other] for other in neighbours.get(label, ()) if other in position and other != label]
                if len(near) < people_per_batch - 1:
                    raise ValueError(f"look-alike batches need at least {people_per_batch - 1} neighbours per person")
                self.neighbours.append(np.array(near))
        self.lookalike_batches = lookalike_batches
        self.singles = np.array(singles, dtype=np.int64)
        self.singles_per_batch = singles_per_batch
        self.people_per_batch = people_per_batch
        self.images_per_person = images_per_person
        self.num_batches = num_batches
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_batches

    def __iter__(self) -> Iterator[list[int]]:
        rng = np.random.RandomState(self.seed + self.epoch)
        k = self.images_per_person
        for _ in range(self.num_batches):
            batch: list[int] = []
            # the extra draw only when look-alike batches are on, so that other runs keep their batches
            if self.lookalike_batches and rng.random_sample() < self.lookalike_batches:
                first = rng.randint(len(self.indices_by_person))
                others = rng.choice(self.neighbours[first], self.people_per_batch - 1, replace=False)
                chosen_people = np.concatenate([[first], others])
            else:
                chosen_people = rng.choice(len(self.indices_by_person), self.people_per_batch, replace=False)
            for person in chosen_people:
                indices = self.indices_by_person[person]
                if len(indices) >= k:
                    chosen = rng.choice(indices, k, replace=False)
                else:
                    chosen = np.concatenate([rng.permutation(indices), rng.choice(indices, k - len(indices))])
                batch += chosen.tolist()
            if self.singles_per_batch:
                batch += rng.choice(self.singles, self.singles_per_batch, replace=False).tolist()
            yield batch
