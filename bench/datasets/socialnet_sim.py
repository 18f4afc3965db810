# mypy: ignore-errors
"""ChurnSim's socialnet7 model from ``fightchurn``, run without a database.

Runs in the side venv that :mod:`bench.datasets.socialnet` makes (``fightchurn``
installed without its dependencies, next to pandas, numpy, omegaconf, filelock and
python-dateutil): it imports the package's own behavior, utility and customer
classes and replays ``ChurnSimulation.__init__``, ``create_customer``,
``simulate_customer``, ``customer_month_end`` and the monthly loop of
``run_simulation`` (fightchurn/churnsim/churnsim.py, version 1.2.0) step for step,
drawing from the random generators in the same order, but writes CSV files where
the original copies every customer into PostgreSQL:

    events.csv         account_id,event_time,event_type        (event_time naive, UTC)
    subscriptions.csv  account_id,plan,start_date,end_date,mrr (end exclusive)
    accounts.csv       account_id,channel,date_of_birth,country
    summary.json       the configuration used and the counts

The configuration is what ``@hydra.main(config_name="socialnet7")`` composes:
conf/default.yaml, then conf/socialnet7.yaml over it (its defaults list is
``[default, _self_]``), without the ``hydra`` node, then the overrides given here
(random_seed, init_customers, growth_rate).

    python socialnet_sim.py OUT_DIR --accounts 1200 --seed 7
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import sys
import time
from datetime import timedelta
from math import ceil
from pathlib import Path

import fightchurn.churnsim as churnsim_package
import numpy as np
import pandas as pd
from dateutil import parser
from dateutil.relativedelta import relativedelta
from fightchurn.churnsim.behavior import LogNormalBehaviorModel
from fightchurn.churnsim.customer import Customer
from fightchurn.churnsim.utility import UtilityModel
from omegaconf import OmegaConf

MODEL = "socialnet7"
CONF = Path(churnsim_package.__file__).resolve().parent / "conf"


def config(**overrides):
    """default.yaml, socialnet7.yaml over it, then the overrides (hydra's composition)."""
    default = OmegaConf.load(CONF / "default.yaml")
    own = OmegaConf.load(CONF / f"{MODEL}.yaml")
    default.pop("hydra", None)  # hydra's own node never reaches the task's cfg
    own.pop("defaults", None)
    return OmegaConf.merge(default, own, OmegaConf.create(overrides))


def customers_over_period(init_customers, growth_rate, start, end):
    """How many customers run_simulation creates: the initial ones, then each month's."""
    total = init_customers
    next_month = start + relativedelta(months=+1)
    n_to_add = ceil(init_customers * growth_rate)
    while next_month < end:
        total += n_to_add
        next_month = next_month + relativedelta(months=+1)
        n_to_add = ceil(n_to_add * (1.0 + growth_rate))
    return total


class Simulation:
    """ChurnSimulation's state and steps, database and joblib aside (n_parallel is 1)."""

    def __init__(self, args, out_dir):
        # ChurnSimulation.__init__
        self.args = args
        self.model_name = args.model
        self.start_date = parser.parse(args.start_date).date()
        self.end_date = parser.parse(args.end_date).date()
        self.init_customers = args.init_customers
        self.monthly_growth_rate = args.growth_rate
        self.util_mod = UtilityModel(self.model_name, args)
        self.behavior_models = {}
        self.population_percents = self.args.population
        for version in self.population_percents:
            behave_mod = LogNormalBehaviorModel(
                self.model_name,
                exp_base=self.args.behave_exp_base,
                random_seed=args.random_seed,
                version=version,
            )
            self.behavior_models[behave_mod.version] = behave_mod
        self.plans = pd.read_csv(CONF / f"{self.model_name}_plans.csv", index_col=0)
        add_on_file = CONF / f"{self.model_name}_addons.csv"
        self.add_ons = pd.read_csv(add_on_file) if add_on_file.exists() else pd.DataFrame()
        self.util_mod.setExpectations(self.behavior_models, self.population_percents)
        self.country_lookup = self.args.country
        # output
        self.out_dir = out_dir
        self.counts = {"accounts": 0, "events": 0, "subscriptions": 0, "churned": 0}

    def create_customer(self, start_date):
        # ChurnSimulation.create_customer
        customer_model = self.behavior_models[
            np.random.choice(
                list(self.population_percents.keys()), p=list(self.population_percents.values())
            )
        ]
        new_customer = customer_model.generate_customer(start_date, args=self.args)
        customer_country = np.random.choice(
            list(self.country_lookup.keys()), p=list(self.country_lookup.values())
        )
        new_customer.country = customer_country
        plans_to_use = self.plans
        available_periods = None
        if "bill_period" in self.plans.columns.values:
            available_periods = sorted(self.plans["bill_period"].unique())
            if start_date <= self.start_date + relativedelta(months=1):
                min_period = self.plans["bill_period"].min()
                plans_to_use = self.plans[self.plans["bill_period"] == min_period]
        new_customer.pick_initial_plan(plans_to_use, self.add_ons, available_periods)
        new_customer.next_renewal = new_customer.start_date + relativedelta(
            months=new_customer.bill_period
        )
        new_customer.add_subscriptions(new_customer.start_date, self.plans, self.add_ons)
        return new_customer

    def simulate_customer(self, start_of_month):
        # ChurnSimulation.simulate_customer
        end_range = start_of_month + relativedelta(months=+1)
        customer_start = start_of_month + timedelta(
            days=random.randrange((end_range - start_of_month).days)
        )
        new_customer = self.create_customer(customer_start)
        churned = False
        next_month = None
        while not churned:
            this_month = customer_start if new_customer.num_months == 0 else next_month
            new_customer.num_months += 1
            next_month = customer_start + relativedelta(months=new_customer.num_months)
            new_customer.generate_events(this_month, next_month)
            if next_month > self.end_date:
                break
            churned = self.customer_month_end(new_customer, next_month)
        new_customer.sim_churned = churned
        return new_customer

    def customer_month_end(self, customer, next_month):
        # ChurnSimulation.customer_month_end
        churned = False
        churn_intent = False
        if self.args.acausal_churn > 0 and random.uniform(0, 1) < self.args.acausal_churn:
            churn_intent = True
        if not churn_intent:
            _ = self.util_mod.utility_function(customer)
            churn_intent = self.util_mod.simulate_churn(customer)
        if churn_intent:
            customer.churn_intent_count += 1
        if next_month >= customer.next_renewal:
            if customer.churn_intent_count > 0:
                churned = True
            if not churned:
                customer.churn_intent_count = 0
                bill_period_change = self.util_mod.simulate_upgrade_downgrade(
                    customer, self.plans, self.add_ons
                )
                if bill_period_change:
                    customer.bill_period_start = next_month
                    customer.num_bill_periods = 1
                else:
                    customer.num_bill_periods += 1
                customer.next_renewal = customer.bill_period_start + relativedelta(
                    months=customer.bill_period * customer.num_bill_periods
                )
                customer.add_subscriptions(next_month, self.plans, self.add_ons)
        elif (customer.churn_intent_count > 1 and 2 <= customer.bill_period <= 6) or (
            customer.churn_intent_count > 2 and customer.bill_period > 6
        ):
            churned = True
            old_last = customer.subscriptions[-1]
            customer.subscriptions[-1] = (*old_last[:2], next_month, *old_last[3:])
        return churned

    def create_customers_for_month(self, month_date, n_to_create, writers):
        # ChurnSimulation.create_customers_for_month, writing files for the database
        for _ in range(n_to_create):
            customer = self.simulate_customer(month_date)
            self.write(customer, writers)

    def write(self, customer, writers):
        accounts, subscriptions, events = writers
        names = self.behavior_models[customer.channel].behave_names
        accounts.writerow(
            [customer.id, customer.channel, customer.date_of_birth.isoformat(), customer.country]
        )
        for s in customer.subscriptions:
            subscriptions.writerow([customer.id, s[0], s[1].isoformat(), s[2].isoformat(), s[3]])
        for e in customer.events:
            events.writerow([customer.id, e[0].isoformat(), names[e[1]]])
        self.counts["accounts"] += 1
        self.counts["subscriptions"] += len(customer.subscriptions)
        self.counts["events"] += len(customer.events)
        self.counts["churned"] += int(customer.sim_churned)

    def run_simulation(self, writers):
        # ChurnSimulation.run_simulation
        self.create_customers_for_month(self.start_date, self.init_customers, writers)
        print(f"{self.init_customers} initial customers for {self.start_date}", flush=True)
        next_month = self.start_date + relativedelta(months=+1)
        n_to_add = ceil(self.init_customers * self.monthly_growth_rate)
        while next_month < self.end_date:
            self.create_customers_for_month(next_month, n_to_add, writers)
            print(f"{n_to_add} new customers for {next_month}", flush=True)
            next_month = next_month + relativedelta(months=+1)
            n_to_add = ceil(n_to_add * (1.0 + self.monthly_growth_rate))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out_dir", type=Path)
    ap.add_argument("--accounts", type=int, default=1200, help="customers over the whole period")
    ap.add_argument("--seed", type=int, default=7)
    opts = ap.parse_args(argv)
    out = opts.out_dir
    out.mkdir(parents=True, exist_ok=True)

    # The package writes copies of its model files under $CHURN_OUT_DIR, and numbers the
    # customers from a file in the temp folder shared by every run: keep both in out_dir.
    os.environ["CHURN_OUT_DIR"] = str(out / "churnsim")
    Customer.ID_FILE = str(out / "churn_customer_id.txt")
    Customer.ID_LOCK_FILE = str(out / "churn_customer_id_lock.txt")
    Path(Customer.ID_FILE).unlink(missing_ok=True)
    Customer.date_multipliers = {}

    base = config()
    start = parser.parse(base.start_date).date()
    end = parser.parse(base.end_date).date()
    init = min(
        range(1, opts.accounts + 1),
        key=lambda n: abs(customers_over_period(n, base.growth_rate, start, end) - opts.accounts),
    )
    args = config(random_seed=opts.seed, init_customers=init)
    print(OmegaConf.to_yaml(args), flush=True)

    # run_churn_simulation: seed python's generator, then the simulation seeds numpy's
    random.seed(args.random_seed)
    began = time.monotonic()
    sim = Simulation(args, out)
    names = ("accounts", "subscriptions", "events")
    tmp = {n: out / f"{n}.csv.tmp" for n in names}
    headers = {
        "accounts": ["account_id", "channel", "date_of_birth", "country"],
        "subscriptions": ["account_id", "plan", "start_date", "end_date", "mrr"],
        "events": ["account_id", "event_time", "event_type"],
    }
    files = {n: tmp[n].open("w", newline="") for n in names}
    writers = {n: csv.writer(f) for n, f in files.items()}
    for n in names:
        writers[n].writerow(headers[n])
    sim.run_simulation(tuple(writers[n] for n in names))
    for f in files.values():
        f.close()
    seconds = round(time.monotonic() - began, 1)
    summary = {
        "model": MODEL,
        "package": "fightchurn==1.2.0",
        "config": OmegaConf.to_container(args),
        "seconds": seconds,
        **sim.counts,
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    for n in ("accounts", "subscriptions", "events"):  # events last: it marks a finished run
        tmp[n].replace(out / f"{n}.csv")
    print(json.dumps(sim.counts), f"in {seconds}s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
